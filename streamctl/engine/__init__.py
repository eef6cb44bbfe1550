"""The engine layer: timing, replay, recording and checking over abstract sources and sinks.

It uses asyncio and the injected :class:`~streamctl.engine.clock.Clock`, but no network library:
the adapters (mock server routes, CLI clients) bring the I/O.
"""
