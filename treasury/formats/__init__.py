"""Bulwark's one way of writing dates and numbers, on its pages and in the admin alike
(Django reads these through `FORMAT_MODULE_PATH` instead of its English defaults)."""
