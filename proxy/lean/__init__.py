"""The lean HTTP/1.1 data path: an asyncio Protocol on httptools, calling the same core Gate."""
