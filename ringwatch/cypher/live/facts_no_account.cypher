// The head of the composed live-facts query (CypherStore.live_facts) when the account's row came
// from the cache: the account is not read at all (live/facts_account with $own false still is).
WITH null AS account
