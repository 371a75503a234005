"""The reference streaming and interaction stack (`livelab stack serve`).

Light on import: `stack.barcode` and `stack.testing` pull in no aiortc, so media-panel and Locust
processes can import what they need. The server is `stack.server.StackServer`, run by
`stack.serve`; `stack.whep_client` has WHEP/WHIP clients for tests and benchmarks;
`stack.standalone` publishes the synthetic host on its own (`livelab host`, WHIP or plain RTP).
"""
