"""The split-runtime fork: its layout and facts (ci/data/fork-facts.json, each with the fork commit
it was read at), the checkout and Linux-split checks (its CMake projects, the real compiler), the
build driver, and the link plan that turns its build outputs into Runtime.Base, the SDK package's
contents and the C# apps."""
