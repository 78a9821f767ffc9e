import UltraGate
