import UltraGateProviders
import UltraGateBench
import UltraGateJSON
import UltraGateCache
import UltraGateHTTP
import UltraGateSupport
import UltraGate

#if canImport(Glibc)
import Glibc
#endif

exit(UltraGateCLI.main(Array(CommandLine.arguments.dropFirst())))
