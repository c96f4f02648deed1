using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Marquee.Billing.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    internal partial class FraudAndCoupons : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "CouponId",
                table: "billing_subscriptions",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "CouponPeriodsLeft",
                table: "billing_subscriptions",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "Discount",
                table: "billing_invoices",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "billing_coupon_redemptions",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    CouponId = table.Column<Guid>(type: "TEXT", nullable: false),
                    AccountId = table.Column<Guid>(type: "TEXT", nullable: false),
                    SubscriptionId = table.Column<Guid>(type: "TEXT", nullable: true),
                    InvoiceId = table.Column<Guid>(type: "TEXT", nullable: true),
                    PromoCode = table.Column<string>(type: "TEXT", maxLength: 40, nullable: true),
                    At = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_coupon_redemptions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "billing_coupons",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Code = table.Column<string>(type: "TEXT", maxLength: 60, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    PercentOff = table.Column<decimal>(type: "TEXT", precision: 5, scale: 2, nullable: true),
                    Duration = table.Column<string>(type: "TEXT", maxLength: 10, nullable: false),
                    Periods = table.Column<int>(type: "INTEGER", nullable: true),
                    MaxRedemptions = table.Column<int>(type: "INTEGER", nullable: true),
                    MaxPerAccount = table.Column<int>(type: "INTEGER", nullable: true),
                    ExpiresAt = table.Column<long>(type: "INTEGER", nullable: true),
                    Plans = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    Active = table.Column<bool>(type: "INTEGER", nullable: false),
                    Redeemed = table.Column<int>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_coupons", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "billing_fraud_assessments",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    AccountId = table.Column<Guid>(type: "TEXT", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Purpose = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    Amount = table.Column<long>(type: "INTEGER", nullable: false),
                    Currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    Ip = table.Column<string>(type: "TEXT", maxLength: 45, nullable: true),
                    IpCountry = table.Column<string>(type: "TEXT", maxLength: 2, nullable: true),
                    CardFingerprint = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    CardCountry = table.Column<string>(type: "TEXT", maxLength: 2, nullable: true),
                    AccountCountry = table.Column<string>(type: "TEXT", maxLength: 2, nullable: true),
                    AccountAttempts = table.Column<int>(type: "INTEGER", nullable: false),
                    IpAttempts = table.Column<int>(type: "INTEGER", nullable: false),
                    SmallCharges = table.Column<int>(type: "INTEGER", nullable: false),
                    DistinctCards = table.Column<int>(type: "INTEGER", nullable: false),
                    AccountAgeHours = table.Column<double>(type: "REAL", nullable: false),
                    DisposableEmail = table.Column<bool>(type: "INTEGER", nullable: false),
                    Score = table.Column<int>(type: "INTEGER", nullable: false),
                    ModelProbability = table.Column<double>(type: "REAL", nullable: true),
                    Decision = table.Column<string>(type: "TEXT", maxLength: 10, nullable: false),
                    Reasons = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    PaymentId = table.Column<Guid>(type: "TEXT", nullable: true),
                    Label = table.Column<string>(type: "TEXT", maxLength: 12, nullable: true),
                    LabelledBy = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    LabelledAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_fraud_assessments", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "billing_fraud_models",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    TrainedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    Labels = table.Column<int>(type: "INTEGER", nullable: false),
                    Frauds = table.Column<int>(type: "INTEGER", nullable: false),
                    Bytes = table.Column<byte[]>(type: "BLOB", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_fraud_models", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "billing_promo_codes",
                columns: table => new
                {
                    Code = table.Column<string>(type: "TEXT", maxLength: 40, nullable: false),
                    CouponId = table.Column<Guid>(type: "TEXT", nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_promo_codes", x => x.Code);
                });

            migrationBuilder.CreateTable(
                name: "billing_coupon_amounts",
                columns: table => new
                {
                    CouponId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Currency = table.Column<string>(type: "TEXT", maxLength: 3, nullable: false),
                    Amount = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_billing_coupon_amounts", x => new { x.CouponId, x.Currency });
                    table.ForeignKey(
                        name: "FK_billing_coupon_amounts_billing_coupons_CouponId",
                        column: x => x.CouponId,
                        principalTable: "billing_coupons",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_billing_coupon_redemptions_CouponId_AccountId",
                table: "billing_coupon_redemptions",
                columns: new[] { "CouponId", "AccountId" });

            migrationBuilder.CreateIndex(
                name: "IX_billing_coupon_redemptions_InvoiceId",
                table: "billing_coupon_redemptions",
                column: "InvoiceId");

            migrationBuilder.CreateIndex(
                name: "IX_billing_coupons_Code",
                table: "billing_coupons",
                column: "Code",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_billing_fraud_assessments_AccountId_At",
                table: "billing_fraud_assessments",
                columns: new[] { "AccountId", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_billing_fraud_assessments_At",
                table: "billing_fraud_assessments",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_billing_fraud_assessments_Ip_At",
                table: "billing_fraud_assessments",
                columns: new[] { "Ip", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_billing_fraud_assessments_PaymentId",
                table: "billing_fraud_assessments",
                column: "PaymentId");

            migrationBuilder.CreateIndex(
                name: "IX_billing_fraud_models_TrainedAt",
                table: "billing_fraud_models",
                column: "TrainedAt");

            migrationBuilder.CreateIndex(
                name: "IX_billing_promo_codes_CouponId",
                table: "billing_promo_codes",
                column: "CouponId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "billing_coupon_amounts");

            migrationBuilder.DropTable(
                name: "billing_coupon_redemptions");

            migrationBuilder.DropTable(
                name: "billing_fraud_assessments");

            migrationBuilder.DropTable(
                name: "billing_fraud_models");

            migrationBuilder.DropTable(
                name: "billing_promo_codes");

            migrationBuilder.DropTable(
                name: "billing_coupons");

            migrationBuilder.DropColumn(
                name: "CouponId",
                table: "billing_subscriptions");

            migrationBuilder.DropColumn(
                name: "CouponPeriodsLeft",
                table: "billing_subscriptions");

            migrationBuilder.DropColumn(
                name: "Discount",
                table: "billing_invoices");
        }
    }
}
