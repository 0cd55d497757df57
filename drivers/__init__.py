"""Device drivers, installed as ``wearsdk.drivers``."""
