// Multi-process tests start real servers; jest's project-level testTimeout is not applied to them.
jest.setTimeout(120_000);
