/// The Microsoft Graph client (see issue 3).
public enum GraphClientModule {}
