"""Background work: a persistent queue of playbook runs, their events and progress."""
