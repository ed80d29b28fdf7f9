"""The sandbox's Gainsight PX routes and model."""
