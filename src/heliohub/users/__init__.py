"""Who may use the hub: accounts, admins, approvals and groups, in the system that owns them."""
