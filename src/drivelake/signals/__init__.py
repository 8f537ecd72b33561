"""Signal processing between raw streams and events: resampling, filtering, gravity separation,
orientation calibration and speed.

Everything here is plain NumPy over arrays, so the same functions serve one drive read from the
lake and a benchmark fleet held in memory.
"""
