import UltraGate

#if canImport(Glibc)
import Glibc
#endif

exit(UltraGateCLI.main(Array(CommandLine.arguments.dropFirst())))
