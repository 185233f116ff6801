"""The OpenAI Responses API, translated to and from the two dialects: request (Responses -> Chat / Messages),
answer and stream (either dialect -> Response objects and events), blob (reasoning sealed in `encrypted_content`)."""
