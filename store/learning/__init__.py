"""What the workbench learns and keeps between data versions: theme memory, the adopted
policy and its exports, model-health acknowledgements."""
