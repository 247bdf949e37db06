// The lowest and highest internal id of one label (__LABEL__): the extent an export's id
// ranges need to walk for it (null and null when the label has no node).
MATCH (x:__LABEL__)
RETURN min(id(x)) AS lo, max(id(x)) AS hi
