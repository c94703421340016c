"""Pilot studies: short experiments that find a cause, run by hand (`python -m
reproductions.pilots.NAME`). Their results are pilots, not verdicts: docs/reproductions.md
says which runs decided what."""
