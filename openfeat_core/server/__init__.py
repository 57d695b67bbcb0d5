"""Above both storages: the statement runner and the HTTP service that serve online and offline work."""
