"""Engines that run the Annotator over a whole input: local (worker processes) and Dask."""
