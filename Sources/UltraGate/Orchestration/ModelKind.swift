/// What a model serves, as its configuration declares (`models.NAME.kind`): a chat request to an
/// embedding model, or an embeddings request to a chat model, is then a 400 naming the model
/// instead of an upstream error. A model that declares nothing is sent either.
public enum ModelKind: String, Sendable, CaseIterable {
    case chat
    case embedding
}
