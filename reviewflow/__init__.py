"""reviewflow: AI pull-request review as an event-driven Zeebe BPMN pipeline."""
