// served at /kj_style_async
