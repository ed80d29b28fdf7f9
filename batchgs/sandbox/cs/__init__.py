"""The sandbox's Gainsight CS routes and state."""
