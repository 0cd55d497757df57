"""I/O: BLE link, and later LSL, MQTT and recorders."""
