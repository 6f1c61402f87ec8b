"""The load engine: conversations run as Locust users, in-process or under the locust CLI."""
