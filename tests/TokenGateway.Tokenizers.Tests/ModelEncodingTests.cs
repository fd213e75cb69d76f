namespace TokenGateway.Tokenizers.Tests;

public sealed class ModelEncodingTests
{
    [Theory]
    [InlineData("gpt-4o", "o200k_base")]
    [InlineData("gpt-4o-mini", "o200k_base")]
    [InlineData("gpt-4o-2024-08-06", "o200k_base")]
    [InlineData("gpt-4o-realtime-preview-2024-12-17", "o200k_base")]
    [InlineData("gpt-4.1", "o200k_base")]
    [InlineData("gpt-4.1-nano-2025-04-14", "o200k_base")]
    [InlineData("gpt-4.5-preview", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("gpt-5-mini-2025-08-07", "o200k_base")]
    [InlineData("o1", "o200k_base")]
    [InlineData("o1-mini", "o200k_base")]
    [InlineData("o3-mini-2025-01-31", "o200k_base")]
    [InlineData("o4-mini", "o200k_base")]
    [InlineData("chatgpt-4o-latest", "o200k_base")]
    [InlineData("gpt-oss-120b", "o200k_base")]
    [InlineData("omni-moderation-latest", "o200k_base")]
    [InlineData("computer-use-preview", "o200k_base")]
    [InlineData("gpt-4", "cl100k_base")]
    [InlineData("gpt-4-0613", "cl100k_base")]
    [InlineData("gpt-4-turbo-2024-04-09", "cl100k_base")]
    [InlineData("gpt-4-32k", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    [InlineData("gpt-3.5-turbo-instruct-0914", "cl100k_base")]
    [InlineData("gpt-35-turbo", "cl100k_base")]
    [InlineData("text-embedding-3-small", "cl100k_base")]
    [InlineData("text-embedding-3-large", "cl100k_base")]
    [InlineData("text-embedding-ada-002", "cl100k_base")]
    [InlineData("davinci-002", "cl100k_base")]
    [InlineData("babbage-002", "cl100k_base")]
    [InlineData("ft:gpt-4o-mini-2024-07-18:acme::9abcDEF", "o200k_base")]
    [InlineData("ft:gpt-3.5-turbo-0125:acme:suffix:8xyz", "cl100k_base")]
    [InlineData("ft:davinci-002:acme::abc", "cl100k_base")]
    [InlineData("GPT-4O", "o200k_base")]
    [InlineData("openai/gpt-4", "cl100k_base")]
    [InlineData(" gpt-4 ", "cl100k_base")]
    [InlineData("some-future-model", "o200k_base")]
    [InlineData("", "o200k_base")]
    public void EncodingForModel_KnownAndUnknownNames_MapsToEncoding(string model, string expected)
    {
        Assert.Equal(expected, TiktokenTokenizer.EncodingForModel(model));
    }

    [Fact]
    public void CreateForModel_SameEncoding_ReturnsSharedInstance()
    {
        Assert.Same(TiktokenTokenizer.CreateForEncoding("o200k_base"), TiktokenTokenizer.CreateForModel("gpt-4o"));
        Assert.Same(TiktokenTokenizer.CreateForEncoding("cl100k_base"), TiktokenTokenizer.CreateForModel("gpt-4-turbo"));
        Assert.Same(TiktokenTokenizer.CreateForModel("unknown"), TiktokenTokenizer.CreateForModel("gpt-5"));
    }
}
