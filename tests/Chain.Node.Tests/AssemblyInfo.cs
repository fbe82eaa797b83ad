// Each test runs four nodes with real timeouts on a machine with few cores: running them one at a time keeps
// the timing each test relies on (rounds of about a second) realistic.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
