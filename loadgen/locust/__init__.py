"""Locust side of livelab (gevent world). Import its modules only inside Locust processes;
`samples` is the exception (standard library only), which the orchestrator reads."""
