"""The gateway's extensions to LiteLLM's proxy (litellm[proxy] 1.108.7, lab/images/gateway).

Two corrections to what the proxy answers, loaded through LiteLLM's documented mechanisms. This file sits beside
config.yaml (LiteLLM imports "gateway_hooks.<name>" from the config's directory), and config.yaml names it:

    general_settings:
      master_key: <the key clients must send>      # optional: without it everyone is let in
      custom_auth: gateway_hooks.user_api_key_auth
    litellm_settings:
      callbacks: gateway_hooks.proxy_handler_instance

- user_api_key_auth ("Custom Auth"): a wrong key gets 401. Without a database LiteLLM answers every key but the
  master key with 400 "No connected db." (it looks the key up as a virtual key). Here the key is compared with the
  master key in constant time; no key or a wrong one raises HTTPException(401), which the proxy's auth error handler
  sends as 401 (type auth_error). The master key gets what LiteLLM gives it (proxy admin, under LiteLLM's alias
  for the master key, so the key itself never reaches logs). Without master_key everyone is let in, as LiteLLM does.
- proxy_handler_instance ("Modify / Reject Incoming Requests", async_pre_call_hook): a chat, completions or
  embeddings request for a model the config does not serve gets 404, as from OpenAI, instead of LiteLLM's 400
  "Invalid model name passed in model=...". The known names are the router's, i.e. config.yaml's
  model_list[].model_name (and any router model_group_alias), read at each request: no second list. The hook runs
  before the request is routed, for streaming requests too, so a stream never starts. It raises LiteLLM's
  ProxyException (code 404), which every one of these endpoints sends as it is: {"error": {"message": ...,
  "type": "invalid_request_error", "param": "model", "code": "404"}} (an HTTPException would come out of
  /v1/completions with type "None" and the message prefixed "404: ").
"""

import hmac

from fastapi import HTTPException, Request, status
from litellm.constants import LITELLM_PROXY_MASTER_KEY_ALIAS
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth

# the proxy's call types for /v1/chat/completions, /v1/completions and /v1/embeddings
_MODEL_CALL_TYPES = frozenset({"completion", "acompletion", "text_completion", "atext_completion",
                               "embeddings", "aembedding"})


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's custom_auth: the master key (constant-time comparison), else 401; everyone without master_key."""
    from litellm.proxy import proxy_server  # the running proxy's settings (master_key read from config.yaml)

    master_key = proxy_server.master_key
    if master_key is None:
        return UserAPIKeyAuth(user_role=LitellmUserRoles.INTERNAL_USER)
    if isinstance(api_key, str) and api_key and hmac.compare_digest(api_key.encode(), str(master_key).encode()):
        return UserAPIKeyAuth(api_key=LITELLM_PROXY_MASTER_KEY_ALIAS, user_role=LitellmUserRoles.PROXY_ADMIN,
                              user_id=proxy_server.litellm_proxy_admin_name)
    raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED,
                        detail="Authentication Error: missing or invalid API key")


class GatewayHooks(CustomLogger):
    """Rejects a request for a model the config does not serve with 404 before LiteLLM routes it."""

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        model = data.get("model")
        if call_type not in _MODEL_CALL_TYPES or not isinstance(model, str):
            return data  # other routes, or no model: LiteLLM decides (a missing model stays its 400)
        from litellm.proxy import proxy_server

        router = proxy_server.llm_router
        known = set(router.model_names) | set(router.model_group_alias or ()) if router is not None else set()
        if model not in known:
            raise ProxyException(message=f"The model `{model}` does not exist. Call /v1/models for the models served.",
                                 type="invalid_request_error", param="model", code=status.HTTP_404_NOT_FOUND)
        return data


proxy_handler_instance = GatewayHooks()
