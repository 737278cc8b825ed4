"""The thin KFP components of shipyard; each maps Input/Output paths onto a core function."""
