"""Textual dashboard of a running simulation: reads Snapshots, sends commands via SimControl."""
