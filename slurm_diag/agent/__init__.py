"""The diagnosis agent's reasoning layer: an optional LLM over the engine's findings.

``llm`` holds the backends (transformers in-process, an OpenAI-compatible endpoint, none, a
scripted fake); ``prompt`` renders the evidence as a Diagram-of-Thought XML prompt; ``rounds``
runs the three rounds of self-play; ``verifier`` decides whether the LLM's answer may stand;
``reason`` wires them with the cache and the budgets. Facts stay in code: an answer the verifier
rejects leaves the engine's attribution in place.
"""
