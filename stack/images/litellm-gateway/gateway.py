"""Container entry point: write a LiteLLM proxy config from the environment, then exec the proxy.

GATEWAY_UPSTREAM (an OpenAI-compatible base URL ending in /v1), GATEWAY_MODELS (comma-separated
names routed there) and LITELLM_MASTER_KEY (the key clients send).
"""

import json
import os

upstream = os.environ["GATEWAY_UPSTREAM"]
models = [m.strip() for m in os.environ["GATEWAY_MODELS"].split(",") if m.strip()]
config = {
    "model_list": [
        {"model_name": m,
         "litellm_params": {"model": f"openai/{m}", "api_base": upstream, "api_key": "none"}}
        for m in models
    ],
    "general_settings": {"master_key": os.environ["LITELLM_MASTER_KEY"]},
    # Retries belong to the harness's client, which records them.
    "litellm_settings": {"drop_params": True, "telemetry": False, "num_retries": 0},
    "router_settings": {"num_retries": 0},
}
with open("/tmp/gateway.yaml", "w") as f:
    json.dump(config, f)  # JSON is YAML
os.execvp("litellm", ["litellm", "--config", "/tmp/gateway.yaml", "--host", "0.0.0.0",
                      "--port", os.environ.get("GATEWAY_PORT", "4000"), "--num_workers", "1"])
