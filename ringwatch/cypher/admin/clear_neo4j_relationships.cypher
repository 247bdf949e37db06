// Relationships first, in bounded transactions: detaching a hub (a CGNAT subnet, gmail.com)
// together with its relationships in one inner transaction runs out of transaction memory.
MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS
