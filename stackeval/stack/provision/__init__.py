"""Provisioning clients for the compose profile's services, over their documented HTTP APIs.

One module per service (``ollama``, ``one_api``, ``open_webui``), each a small httpx client that
takes a ``transport`` so tests replay transcripts through ``httpx.MockTransport``. Failures are
translated to the stackeval error tree with a one-line cause and what to do. ``provisioner``
runs them in order for a started compose stack; nothing here calls Docker.
"""
