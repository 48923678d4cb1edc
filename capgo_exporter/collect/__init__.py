"""Collectors: one per API area, each turning Capgo answers into samples of the catalogue."""
