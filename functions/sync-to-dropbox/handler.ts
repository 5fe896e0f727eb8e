// Placeholder while the sync function is wired (issue 4); replaced by the middy handler.
export const handler = async (): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => ({
  batchItemFailures: [],
});
