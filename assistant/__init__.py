"""draftpad's user-facing layer: the CLI, the drafting workflow and (only in assistant.app) the TUI."""
