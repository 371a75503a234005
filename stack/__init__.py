"""The reference streaming and interaction stack (`livelab stack serve`).

Light on import: `stack.barcode` and `stack.testing` pull in no aiortc, so media-panel and Locust
processes can import what they need. The server lives in `stack.app`.
"""
