"""The case workflow as rules that are data: the state machine's transition table, and
working-day deadlines on the official calendar. Pure code: no database, no HTTP."""
