"""capgo-exporter: a Prometheus exporter and admin command line for Capgo cloud."""

__version__ = "0.1.0"
