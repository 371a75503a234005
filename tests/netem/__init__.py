"""Tests of netem_profiles: profiles, schedulers, datagram impairment, relays, accuracy."""
