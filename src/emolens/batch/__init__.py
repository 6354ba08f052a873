"""Batch analysis of large collections of images and videos on Ray Data (the ``[ray]`` extra): the same
:class:`~emolens.pipeline.analyzer.Analyzer` in a pool of actors, results in Parquet, resumable.

Modules: ``inputs`` (what to analyse), ``work`` (what runs on the workers), ``records`` (the Arrow schemas),
``tracks`` (track ids unique per video), ``output`` (the ``--out`` folder), ``run`` (the pipeline).
Ray itself is imported only when ``run`` starts a pipeline.
"""
