export { LatchkeyClient, unwrap, decodeClaims, linkToken } from "./client.js";
export type {
  AcceptInvitation, AccessClaims, Account, AuthState, Authenticated, Coverage, CoverageCsv, CoverageRow, CreateIdentityProvider,
  CreateInvitation, CreateSubAccount, Device, Enrollment, Factors, IdentityProvider, Invitation, InvitationStatus, LatchkeyClientOptions, Me,
  MfaMethods, MfaStatus, Page, Passkey, PasswordlessOptions, RegisteredPasskey, RelyingParty, Schemas, SecondStepOptions, SignInOptions,
  SignupRequest, SignupResponse, SignupResult, SsoProvider, StepUpHandler, StepUpOptions, StepUpProof, StepUpRequest, SubAccount,
  UpdateAccount, UpdateIdentityProvider, UpdateSubAccount, UpdateUser, User,
} from "./client.js";
export {
  base64urlToBytes, bytesToBase64url, createPasskey, creationOptionsFromJSON, credentialToJSON, getPasskey, passkeyAvailability,
  passkeyError, passkeysSupported, requestOptionsFromJSON,
} from "./webauthn.js";
export type {
  AuthenticationCredentialJSON, Base64Url, CreationOptionsJSON, CredentialDescriptorJSON, PasskeyAvailability, PasskeyCreationOptions,
  PasskeyPromptOptions, PasskeyRequestOptions, RegistrationCredentialJSON, RequestOptionsJSON,
} from "./webauthn.js";
export { LatchkeyError, isErrorCode, isLatchkeyError } from "./errors.js";
export type { ClientErrorCode, ErrorCode, FieldError, Problem } from "./errors.js";
/** The named permissions roles are made of, as the OpenAPI document lists them. */
export type Permission = import("./schema.js").components["schemas"]["Permission"];
export { memoryDeviceTokens, memoryStorage, normalizeEmail, webDeviceTokens, webStorage } from "./storage.js";
export type { DeviceTokenStore, TokenStorage } from "./storage.js";
export { defaultLock, inProcessLock, storageLock, webLocks } from "./lock.js";
export type { LockManagerLike, RefreshLock } from "./lock.js";
export { broadcastChannel, defaultChannel, storageEventChannel } from "./channel.js";
export type { TabChannel, TabMessage } from "./channel.js";
export type { components, paths, operations } from "./schema.js";
