"""A faithful local emulator of the Gainsight PX and CS APIs (aiohttp.web). Never imports the client."""
