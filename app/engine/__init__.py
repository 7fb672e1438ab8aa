"""The workflow engine: SpiffWorkflow wrapped with EstateFlow's clock, specs and checks."""
