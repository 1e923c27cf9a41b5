"""The platform-neutral moderation core: types, normalisation, scorers, policy and engine."""
