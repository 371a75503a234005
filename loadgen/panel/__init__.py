"""The aiortc media panel: real viewers behind emulated networks (see `run_panel`)."""
