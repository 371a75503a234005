"""The run orchestrator behind `livelab run` (plain Python: neither gevent nor asyncio here;
Locust and the media panel run in their own processes)."""
