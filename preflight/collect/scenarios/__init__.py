"""Sandbox scenarios, one module per family (net, sg, iam, compute). Importing registers them."""
